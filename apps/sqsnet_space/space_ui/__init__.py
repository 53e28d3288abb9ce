"""The Gradio layer of the SQSNet lab app: one module per tab, shared components, launching.

* :mod:`.components`: the never-decoding image input, toasts, CSS.
* :mod:`.predict_tab`, :mod:`.explorer_tab`, :mod:`.model_tab`: each tab's ``layout`` (the
  components, inside ``gr.Tab``), its handler class (adapts :mod:`sqsnet.service` results
  to the components) and ``wire`` (connects the events, each with an ``api_name``).
* :mod:`.launching`: ``demo.launch`` arguments and the patient start-up probe.

All the work (models, faces, Grad-CAM, SQS maps, gallery, cards) is in
:mod:`sqsnet.service`, which never imports Gradio.
"""

__all__: list[str] = []
