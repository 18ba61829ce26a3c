"""A screen for issue 10, not part of the tool: a document memory on CoNLL-2003 (after Luo et
al. 2020, with a detached memory), trained by the library's own step and scored as it scores.

Each token with an upper-case letter is linked to the other occurrences of the same string in
its document (at most CAP, nearest first). The encoder's states of every token are kept in a
memory (written after each forward, detached); a token's context is the mean of its partners'
stored states. A small MLP over [h, context, has_context] adds to the emissions.
At evaluation, pass 1 fills the memory for the whole corpus, pass 2 tags.

usage: python -m benchmarks.doc_memory_screen SEED base|mem [OUT.json]
  (env: EMBEDDINGS=glove-6b-50d for pretrained vectors, CASING=0 for no casing feature,
  MAX_EPOCHS=N to stop early)
"base" reproduces `ner-bilstm train` of the same seed exactly (checked: dev F1 71.07, 85.03
after epochs 1 and 2 for seed 1, as runs/bench/conll2003/seeds/seed-1/history.jsonl).
"""
from __future__ import annotations

import copy
import json
import os
import sys
import time
from collections import defaultdict

import torch
from torch import nn
from torch.nn import functional as F

from ner_bilstm.batching import EncodedCorpus, length_batches
from ner_bilstm.config import TrainConfig
from ner_bilstm.corpora import load_corpora
from ner_bilstm.evaluation import entity_scores
from ner_bilstm.model import TaggerNetwork
from ner_bilstm.optimization import learning_rate, make_optimizer, train_step
from ner_bilstm.schemes import tags_to_spans
from ner_bilstm.setup import prepare
from ner_bilstm.training import set_seed

CAP = 16
D = os.environ.get("DATA", "../shared/data/conll2003/")


class DocContext:
    """Partner lists (CSR over the corpus's flat token positions) and the memory."""

    def __init__(self, corpus: EncodedCorpus, sentences, dim: int):
        self.offsets = corpus._offsets
        self.lengths = corpus._lengths
        groups = defaultdict(list)
        pos = 0
        for s in sentences:
            doc = s.meta.get("document")
            for t in s.tokens:
                if doc is not None and any(c.isupper() for c in t):
                    groups[(doc, t.lower())].append(pos)
                pos += 1
        n = pos
        partners = [[] for _ in range(n)]
        for members in groups.values():
            if len(members) < 2:
                continue
            for p in members:
                others = sorted((q for q in members if q != p), key=lambda q: abs(q - p))[:CAP]
                partners[p] = others
        counts = torch.tensor([len(x) for x in partners], dtype=torch.long)
        self.ptr = torch.zeros(n + 1, dtype=torch.long)
        self.ptr[1:] = torch.cumsum(counts, 0)
        self.idx = torch.tensor([q for x in partners for q in x], dtype=torch.long)
        self.memory = torch.zeros(n, dim)
        self.filled = torch.zeros(n, dtype=torch.bool)
        self.linked = int((counts > 0).sum())

    def positions(self, index: list[int], time_: int) -> tuple[torch.Tensor, torch.Tensor]:
        rows = torch.tensor(index, dtype=torch.long)
        steps = torch.arange(time_)
        mask = steps.unsqueeze(0) < self.lengths[rows].unsqueeze(1)
        return (self.offsets[rows].unsqueeze(1) + steps).masked_fill(~mask, 0), mask

    def write(self, index, h: torch.Tensor) -> None:
        at, mask = self.positions(index, h.size(1))
        self.memory[at[mask]] = h.detach()[mask].float()
        self.filled[at[mask]] = True

    def read(self, index, time_: int) -> torch.Tensor:
        """(batch, time, dim + 1): mean of the partners' stored states, and whether any."""
        at, mask = self.positions(index, time_)
        pos = at[mask]
        starts = self.ptr[pos]
        cnt = self.ptr[pos + 1] - starts
        n = pos.numel()
        seg = torch.repeat_interleave(torch.arange(n), cnt)
        first = torch.repeat_interleave(torch.cumsum(cnt, 0) - cnt, cnt)
        q = self.idx[starts[seg] + torch.arange(int(cnt.sum())) - first]
        ok = self.filled[q].float()
        sums = torch.zeros(n, self.memory.size(1)).index_add_(0, seg, self.memory[q] * ok.unsqueeze(1))
        num = torch.zeros(n).index_add_(0, seg, ok)
        ctx = torch.cat([sums / num.clamp(min=1).unsqueeze(1), (num > 0).float().unsqueeze(1)], 1)
        out = torch.zeros(len(index), time_, ctx.size(1))
        out[mask] = ctx
        return out


class DocTagger(TaggerNetwork):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        width = self.encoder.output_size
        self.ctx_head = nn.Sequential(nn.Linear(2 * width + 1, 100), nn.Tanh(), nn.Linear(100, self.projection.out_features))
        self.context: DocContext | None = None
        self.write = True

    def states(self, batch):
        """The encoder's states ``(batch, time, width)``, before the output dropout."""
        parts = [self.word_embed(batch.words), F.embedding(batch.type_index, self.char_encoder(batch.chars, batch.char_lengths))]
        if self.casing_embed is not None:
            parts.append(self.casing_embed(batch.casing))
        return self.encoder(self.dropout(torch.cat(parts, dim=2)), batch.mask)

    def emissions(self, batch):
        h = self.states(batch)
        em = self.projection(self.dropout(h))
        if self.context is not None:
            ctx = self.context.read(batch.index, h.size(1))
            if self.write:
                self.context.write(batch.index, h)
            em = em + self.ctx_head(self.dropout(torch.cat([h, ctx], 2)))
        return em


def evaluate(model, corpus, sentences, ctx, labels, batch_size=256):
    model.eval()
    batches = length_batches(corpus.lengths, batch_size)
    spans = [None] * len(sentences)
    with torch.no_grad():
        if ctx is not None:
            model.write = False
            for b in batches:
                batch = corpus.batch(b)
                ctx.write(b, model.states(batch))
            model.context = ctx
        for b in batches:
            batch = corpus.batch(b)
            paths, _ = model.decode(batch)
            for row, i in enumerate(b):
                tags = [labels[t] for t in paths[row, : len(sentences[i])].tolist()]
                spans[i] = tags_to_spans(tags)
    model.write = True
    return entity_scores([s.tags for s in sentences], spans)


def main():
    seed, mode = int(sys.argv[1]), sys.argv[2]
    out = sys.argv[3] if len(sys.argv) > 3 else f"doc-memory-{mode}-{seed}.json"
    torch.set_num_threads(2)
    config = TrainConfig(seed=seed, embeddings=os.environ.get("EMBEDDINGS", ""), casing=os.environ.get("CASING", "1") == "1")
    set_seed(seed)
    corpora = load_corpora(config, D + "train.txt", D + "dev.txt", D + "test.txt")
    setup = prepare(config, corpora.train, torch.device("cpu"), D + "train.txt", corpora.evaluated())
    vocab, labels = setup.vocab, setup.labels
    if mode == "mem":
        model = DocTagger(setup.config.model_config(), len(vocab.words), len(vocab.chars), labels, config.train_scheme, vocab.num_bigrams)
        if config.embeddings:
            with torch.no_grad():
                model.word_embed.weight.copy_(setup.model.word_embed.weight)
        setup.model = setup.trainer = model
        setup.optimizer = make_optimizer(config, model)
    model = setup.model
    train_sents = corpora.train.sentences
    dev, test = corpora.dev, corpora.test
    dev_c, test_c = EncodedCorpus(dev, vocab), EncodedCorpus(test, vocab)
    width = model.encoder.output_size
    ctxs = {}
    if mode == "mem":
        ctxs = {k: DocContext(c, s, width) for k, (c, s) in
                {"train": (setup.data, train_sents), "dev": (dev_c, dev), "test": (test_c, test)}.items()}
        print({k: v.linked for k, v in ctxs.items()}, flush=True)
    gen = torch.Generator()
    gen.manual_seed(seed)
    best, best_epoch, bad, best_state, history = -1.0, 0, 0, None, []
    t_start = time.time()
    for epoch in range(1, int(os.environ.get("MAX_EPOCHS", config.epochs)) + 1):
        lr = learning_rate(config, epoch)
        for g in setup.optimizer.param_groups:
            g["lr"] = lr
        model.train()
        if mode == "mem":
            model.context = ctxs["train"]
        t0 = time.time()
        for b in length_batches(setup.data.lengths, config.batch_size, gen):
            train_step(setup, setup.data.batch(b), config)
        t1 = time.time() - t0
        f1 = evaluate(model, dev_c, dev, ctxs.get("dev"), labels)["micro"]["f1"]
        history.append((epoch, f1, round(t1, 1)))
        print(f"epoch {epoch} dev {f1:.2f} {t1:.1f}s", flush=True)
        if f1 > best:
            best, best_epoch, bad, best_state = f1, epoch, 0, copy.deepcopy(model.state_dict())
        else:
            bad += 1
            if bad >= config.patience:
                break
    model.load_state_dict(best_state)
    test_f1 = evaluate(model, test_c, test, ctxs.get("test"), labels)["micro"]["f1"]
    result = {"seed": seed, "mode": mode, "dev": best, "test": test_f1, "best_epoch": best_epoch, "epochs": len(history),
              "seconds": round(time.time() - t_start, 1), "history": history}
    print(json.dumps(result), flush=True)
    with open(out, "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main()
