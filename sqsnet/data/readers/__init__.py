"""One reader per dataset, each in its own module, all on the :class:`~.base.FERDataset` base.

* :mod:`.base`: the reader contract, :class:`~.base.DatasetError`, shared helpers.
* :mod:`.ferplus`: FERPlus (Microsoft's generated layout or the raw CSV pair).
* :mod:`.rafdb`: RAF-DB basic (official layout and the public ``train|test/<1..7>/`` mirror).
* :mod:`.affectnet`: AffectNet, manually annotated part (official layout and split-folder
  mirrors).
* :mod:`.fer2013`: FER2013 (``fer2013.csv`` or class folders).
* :mod:`.folder`: any labelled ``<class>/`` folder tree (flat or with split folders), and
  the class-tree helpers the mirrors share.
"""

from .affectnet import AffectNet
from .base import IMAGE_EXTENSIONS, DatasetError, FERDataset
from .fer2013 import FER2013
from .ferplus import FERPlus, ferplus_majority
from .folder import LabelledFolder
from .rafdb import RAFDB

__all__ = [
    "IMAGE_EXTENSIONS",
    "DatasetError",
    "FERDataset",
    "FERPlus",
    "ferplus_majority",
    "RAFDB",
    "AffectNet",
    "FER2013",
    "LabelledFolder",
]
