"""Named SQL, BigQuery dialect: ``{table}`` placeholders for identifiers, ``@name`` for values."""
