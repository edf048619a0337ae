"""The first-party shopping assistant: a LangChain agent with the platform's own tools."""
