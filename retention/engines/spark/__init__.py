"""The Spark engine: the per-user stages on Apache Spark, tables back into the warehouse.

Importing this package imports neither pyspark nor sqlglot; the modules that
need them import them when a Spark run starts.
"""
