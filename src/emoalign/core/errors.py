"""User-facing errors: one clear line naming the file, field, model or layer at fault."""


class EmoalignError(Exception):
    """An error caused by the user's input or environment; the CLI prints it as one line and exits 2."""
