"""Neural building blocks: the character encoder, the sentence encoder and the two heads (CRF, softmax)."""

from .char_encoder import CharCNN, CharLSTM
from .crf import CRF, Lattice, viterbi
from .encoder import BiRNNLayer, SentenceEncoder, reverse_padded
from .softmax import SoftmaxHead

HEADS = {"crf": CRF, "softmax": SoftmaxHead}  # config's "head" -> the class that builds it

__all__ = ["CRF", "HEADS", "Lattice", "SoftmaxHead", "viterbi", "BiRNNLayer", "CharCNN", "CharLSTM", "SentenceEncoder", "reverse_padded"]
