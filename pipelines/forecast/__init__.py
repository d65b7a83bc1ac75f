"""Month-end cost forecasts: a seasonal baseline in plain Python (pipelines/forecast/model.py)."""
