"""flair's side of the end-to-end predict benchmark: load a saved tagger, tag JSON lines, write JSON lines.

Usage: python benchmarks/flair_predict.py MODEL.pt INPUT.jsonl OUTPUT.jsonl
"""

import json
import logging
import sys

from flair.data import Sentence
from flair.models import SequenceTagger

logging.getLogger("flair").setLevel(logging.WARNING)
tagger = SequenceTagger.load(sys.argv[1])
with open(sys.argv[2], encoding="utf-8") as f:
    sentences = [Sentence(json.loads(line)["tokens"]) for line in f]
tagger.predict(sentences, mini_batch_size=32)
with open(sys.argv[3], "w", encoding="utf-8") as out:
    for s in sentences:
        spans = [{"text": sp.text, "label": sp.tag, "score": sp.score} for sp in s.get_spans("ner")]
        out.write(json.dumps({"entities": spans}) + "\n")
