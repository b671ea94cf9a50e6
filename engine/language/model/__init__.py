"""pydantic models of everything loaded from outside: attributes, criteria, policies, formularies."""
