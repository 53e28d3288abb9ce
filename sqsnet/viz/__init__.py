"""Seeing SQSNet: similarity maps, Grad-CAM and result plots.

* :mod:`sqsnet.viz.similarity`: per-location SQS maps of a quad (``S_AP``, ``S_AN1``,
  ``S_AN2``, ``R``, hinge, contrast), fused and CNN branch before fusion, computed by the
  model's own SQS module; overlays.
* :mod:`sqsnet.viz.quad_plots`: figures of a quad's maps, each with a colour bar;
  :mod:`sqsnet.viz.scales`: which colours mean what (full or own range).
* :mod:`sqsnet.viz.regions` and :mod:`sqsnet.viz.atlas`: the SQS atlas, the mean contrast
  of every ordered class pair with localisation scores and permutation p-values
  (``sqsnet atlas``); :mod:`sqsnet.viz.atlas_plots` draws it.
* :mod:`sqsnet.viz.gradcam`: Grad-CAM of the local, global and fused maps.
* :mod:`sqsnet.viz.plots`: confusion matrix, training curves, per-class F1, seed results,
  embeddings, prediction bars; :func:`save_figure`.
* :mod:`sqsnet.viz.samples`: finding data and faces for notebooks and demos.

Figures are :class:`matplotlib.figure.Figure` objects made without pyplot; nothing is
ever shown or popped up. See ``docs/visualisation.md`` for how to read each map.
"""

from sqsnet.viz._images import model_view
from sqsnet.viz.gradcam import (
    BRANCHES,
    available_branches,
    gradcam,
    gradcam_overlay,
    plot_gradcam,
)
from sqsnet.viz.plots import (
    extract_features,
    plot_confusion_matrix,
    plot_embedding,
    plot_per_class_f1,
    plot_predictions,
    plot_seed_results,
    plot_training_curves,
    predict_images,
    save_figure,
    seed_summary,
)
from sqsnet.viz.samples import (
    class_indices,
    find_data_root,
    read_model_card,
    subset_per_class,
    synthetic_face,
)
from sqsnet.viz.quad_plots import plot_contrast, plot_quad_maps
from sqsnet.viz.scales import SCALES, ColourScale, map_scale
from sqsnet.viz.similarity import (
    MAP_KEYS,
    QuadMaps,
    compute_quad_maps,
    overlay_heatmap,
)

__all__ = [
    # similarity
    "QuadMaps",
    "MAP_KEYS",
    "compute_quad_maps",
    "overlay_heatmap",
    "plot_quad_maps",
    "plot_contrast",
    "SCALES",
    "ColourScale",
    "map_scale",
    # gradcam
    "BRANCHES",
    "available_branches",
    "gradcam",
    "gradcam_overlay",
    "plot_gradcam",
    # plots
    "plot_confusion_matrix",
    "plot_training_curves",
    "plot_per_class_f1",
    "plot_seed_results",
    "seed_summary",
    "plot_embedding",
    "extract_features",
    "plot_predictions",
    "predict_images",
    "save_figure",
    "model_view",
    # samples
    "find_data_root",
    "class_indices",
    "subset_per_class",
    "synthetic_face",
    "read_model_card",
]
