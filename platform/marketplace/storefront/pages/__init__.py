"""The store's HTML pages, one module per domain: thin handlers over the same services the JSON
API uses."""
