"""The built-in personas (personas.yaml), read by `sandbox.persona.load_personas`."""
