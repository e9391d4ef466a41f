"""Domain errors. The API raises these and never prints or exits; the CLI turns
them into one `Error: ...` line and exit code 1."""


class RetentionError(Exception):
    """A problem the user can fix: bad pipeline file, bad source, bad data."""


class ConfigError(RetentionError):
    """The pipeline file is missing, is not TOML, or breaks the contract."""


class SourceError(RetentionError):
    """A source file is missing, empty, unreadable, or lacks a mapped column."""


class DataQualityError(RetentionError):
    """The source was read, but too much of it is unusable to publish a run."""


class WarehouseError(RetentionError):
    """The warehouse file cannot be opened or is not a retention warehouse."""
