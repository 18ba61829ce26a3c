"""Neural building blocks: the character encoder, the sentence encoder and the CRF."""

from .char_encoder import CharCNN, CharLSTM
from .crf import CRF, viterbi
from .encoder import SentenceEncoder, reverse_padded

__all__ = ["CRF", "viterbi", "CharCNN", "CharLSTM", "SentenceEncoder", "reverse_padded"]
