"""The offline HTML report of a published run."""
