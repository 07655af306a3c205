"""sync_pipeline: two-way sync between WebCRM and CRMOffice on Dagster."""
