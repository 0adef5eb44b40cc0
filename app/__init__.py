"""User groups of type "cards only": a FastAPI microservice for EV charging operators."""
