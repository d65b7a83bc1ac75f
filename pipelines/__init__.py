"""billing-lakehouse: cloud billing deliveries to bronze, silver and gold Delta tables."""

__version__ = "0.1.0"
