"""The lab's one exception root.

Every error that is the user's input or environment (a bad config value, a missing file, an
unreadable image, an unknown model name, a checkpoint that does not fit) is an
:class:`SQSNetError`. The CLI catches this one type and prints its first line; library users
can do the same. Each subclass also derives from the built-in type that describes it
(``ValueError``, ``RuntimeError``), so ``except ValueError`` keeps working.
"""

from __future__ import annotations

__all__ = ["SQSNetError"]


class SQSNetError(Exception):
    """Root of every error the lab raises for bad input or a missing resource.

    Its message is one line that names the file, key or value and says what was expected.
    """
