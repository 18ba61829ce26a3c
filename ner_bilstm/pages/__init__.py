"""HTML pages: entities highlighted in text (``marks``), the streamed page of `predict`
(``predictions``) and the model report (``report``, with its curves in ``curves``)."""
