"""emoalign: do two language models hold the same emotion subspaces in different coordinates?"""

__version__ = "0.1.0"
