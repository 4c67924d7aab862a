"""Reports: summary CSV, printed tables and Markdown generated from results."""
