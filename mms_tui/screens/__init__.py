"""Textual screens: thin views over the services."""
