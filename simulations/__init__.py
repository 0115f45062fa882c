"""Offline simulations of the artwork personalization service (synthetic worlds with known truth)."""
