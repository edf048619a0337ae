"""The population of a scenario: simulated shoppers, the platform's agent, outside agents."""
