"""Synthetic booking cohorts calibrated to published figures (no real client data in this repo)."""
