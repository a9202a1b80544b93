"""File adapter: read orders and settings from workbooks and CSV files, write list sheets."""
