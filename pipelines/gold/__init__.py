"""Gold: cost per usage record and the aggregates people query."""
