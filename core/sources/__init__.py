"""Sources: where records come from (the embedded demo ERP, an ERP over HTTP)."""
