"""Human-facing output: terminal tables, HTML reports, summaries."""
