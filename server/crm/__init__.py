"""CRM connectors for the ``crm-lookup`` widget: the contact store, REST CRMs and CSV files."""
