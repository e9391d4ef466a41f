"""Domain errors. The API raises these and never prints or exits; the CLI turns
them into one `Error: ...` line and the error's `exit_code`."""


class RetentionError(Exception):
    """A problem the user can fix: bad pipeline file, bad source, bad data."""

    exit_code = 1


class ConfigError(RetentionError):
    """The pipeline file is missing, is not TOML, or breaks the contract."""


class SourceError(RetentionError):
    """A source file is missing, empty, unreadable, or lacks a mapped column."""


class DataQualityError(RetentionError):
    """The source was read, but too much of it is unusable to publish a run."""

    exit_code = 4


class WarehouseError(RetentionError):
    """The warehouse file cannot be opened or is not a retention warehouse."""


class WarehouseLockedError(WarehouseError):
    """Another run is writing the warehouse; a scheduler may retry later."""

    exit_code = 3
