"""Pure discovery rules (the catalog and analysis packages hold the static-analysis logic)."""
