"""Helpers the tests share: harnesses, fixtures and the engine's sandbox sessions."""
