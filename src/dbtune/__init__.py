"""dbtune."""
