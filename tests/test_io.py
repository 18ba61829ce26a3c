import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ner_bilstm.errors import NerError
from ner_bilstm.io import read_conll, read_jsonl_sentences, read_source, split_sentences, tokenize

from .conftest import shared


def write(tmp_path, name: str, text: str, newline: str = "\n"):
    p = tmp_path / name
    p.write_bytes(text.replace("\n", newline).encode("utf-8"))
    return str(p)


def test_conll_docstart_crlf_trailing_space_and_columns(tmp_path):
    path = write(
        tmp_path, "a.txt",
        "-DOCSTART- -X- O O\n\nEU NNP I-NP I-ORG  \nrejects VBZ I-VP O\n\n\n# not a comment x\nPeter NNP I-NP I-PER\n",
        newline="\r\n",
    )
    sents = list(read_conll(path))
    assert [s.tokens for s in sents] == [["EU", "rejects"], ["Peter"]]
    assert sents[1].meta["comments"] == ["# not a comment x"]
    assert sents[0].tags == ["I-ORG", "O"]
    assert sents[0].meta["line"] == 3
    assert sents[0].meta["columns"][0] == ["EU", "NNP", "I-NP", "I-ORG"]


def test_conll_comment_lines_are_kept_and_hash_tokens_are_tokens(tmp_path):
    path = write(tmp_path, "a.txt", "# sent_id = 1\nParis B-LOC\n#\tO\n\n# M-X\n")
    sents = list(read_conll(path))
    assert sents[0].meta["comments"] == ["# sent_id = 1"]
    assert sents[0].tokens == ["Paris", "#"]
    assert sents[1].tokens == ["#"] and sents[1].tags == ["M-X"]


def test_conll_column_choice(tmp_path):
    path = write(tmp_path, "a.txt", "1 Paris NNP B-LOC x\n2 is VBZ O x\n")
    (s,) = read_conll(path, token_col=1, tag_col=3)
    assert s.tokens == ["Paris", "is"] and s.tags == ["B-LOC", "O"]


@pytest.mark.parametrize(
    "text, line, message",
    [
        ("Paris B-LOC\nis VBZ O\n", 2, "expected 2 columns, found 3"),
        ("Paris B-LOC\nis PER\n", 2, "not valid in any scheme"),
        ("Paris\n", 1, "expected a token and a tag column"),
        ("Paris B-LOC\nx\x00y O\n", 2, "NUL byte"),
    ],
)
def test_malformed_conll_names_file_and_line(tmp_path, text, line, message):
    path = write(tmp_path, "bad.txt", text)
    with pytest.raises(NerError, match=message) as err:
        list(read_conll(path))
    assert str(err.value).startswith(f"{path}:{line}: ")


def test_conll_bad_encoding_and_missing_file(tmp_path):
    p = tmp_path / "latin.txt"
    p.write_bytes("Paris B-LOC\nZ\xfcrich B-LOC\n".encode("latin-1"))
    with pytest.raises(NerError, match=r"latin.txt:2: not valid utf-8"):
        list(read_conll(str(p)))
    assert list(read_conll(str(p), encoding="latin-1"))[0].tokens == ["Paris", "Zürich"]
    with pytest.raises(NerError, match="no such file"):
        list(read_source(str(tmp_path / "missing.txt")))


def test_conll_byte_order_mark(tmp_path):
    p = tmp_path / "bom.txt"
    p.write_bytes("\ufeffParis B-LOC\n".encode())
    assert list(read_conll(str(p)))[0].tokens == ["Paris"]


def test_jsonl_reading_and_errors(tmp_path):
    good = write(tmp_path, "a.jsonl", json.dumps({"tokens": ["Paris", "!"], "tags": ["B-LOC", "O"], "id": 3}) + "\n\n")
    (s,) = read_source(good)
    assert s.tokens == ["Paris", "!"] and s.tags == ["B-LOC", "O"]
    for body, message in [
        ("[1, 2]", "expected a JSON object, found an array"),
        ("{not json", "not valid JSON"),
        ('{"tokens": ["a"], "tags": ["O", "O"]}', "1 tokens but 2 tags"),
        ('{"tokens": "a b", "tags": []}', "list of strings"),
        ('{"tokens": ["a"]}', 'missing "tags"'),
        ('{"tokens": ["a"], "tags": ["BAD"]}', "not valid in any scheme"),
    ]:
        path = write(tmp_path, "b.jsonl", '{"tokens": ["x"], "tags": ["O"]}\n' + body + "\n")
        with pytest.raises(NerError, match=message) as err:
            list(read_jsonl_sentences(path))
        assert f"{path}:2: " in str(err.value)


def test_shared_conll2003_counts_and_scheme():
    from ner_bilstm.schemes import detect_scheme

    sents = list(read_conll(str(shared("conll2003", "train.txt"))))
    assert len(sents) == 14041
    assert sum(len(s) for s in sents) == 203621
    assert detect_scheme(s.tags for s in sents) == "iob1"


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=80))
def test_token_offsets_are_exact(text):
    for token, start, end in tokenize(text):
        assert text[start:end] == token
        assert token.strip() == token and token
    for sentence in split_sentences(text):
        for token, (start, end) in zip(sentence.tokens, sentence.offsets):
            assert sentence.text[start:end] == token


def test_tokenizer_and_sentence_splitter():
    text = 'Mr. Smith went to Washington D.C. on Monday. He said: "We don\'t know." The U.S. economy grew 3.5% in 1996-08-22!'
    sents = split_sentences(text)
    assert [s.tokens for s in sents] == [
        ["Mr.", "Smith", "went", "to", "Washington", "D.C.", "on", "Monday", "."],
        ["He", "said", ":", '"', "We", "do", "n't", "know", ".", '"'],
        ["The", "U.S.", "economy", "grew", "3.5", "%", "in", "1996-08-22", "!"],
    ]
    assert [t for t, _, _ in tokenize("It's O'Neil's AT&T")] == ["It", "'s", "O'Neil", "'s", "AT&T"]


def test_outputs_write_through_links_and_into_fifos_without_replacing_them(tmp_path):
    """An output path that is a symbolic link or a FIFO (or a device: /dev/null) must stay what
    it is: renaming the finished file over it would replace a device with a regular file."""
    import os
    import stat
    import threading

    from ner_bilstm.io.files import output_stream, write_json

    (tmp_path / "real").mkdir()
    link = tmp_path / "link.json"
    link.symlink_to(tmp_path / "real" / "target.json")
    write_json(link, {"a": 1})
    assert link.is_symlink() and json.loads((tmp_path / "real" / "target.json").read_text()) == {"a": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.json", "real"]  # no temporary left beside the link

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text()))
    reader.start()
    with output_stream(fifo) as stream:
        stream.write("through the pipe\n")
    reader.join(timeout=30)
    assert received == ["through the pipe\n"] and stat.S_ISFIFO(os.stat(fifo).st_mode)
    with pytest.raises(NerError, match="cannot write: is a directory"):
        write_json(tmp_path / "real", {})
    # /dev/stdout into a pipe: a link to a pipe that realpath cannot name.
    import subprocess
    import sys

    code = "from ner_bilstm.io.files import output_stream\nwith output_stream('/dev/stdout') as out:\n    out.write('piped\\n')"
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and p.stdout == "piped\n", p.stderr


def test_a_label_map_entry_that_matched_nothing_is_reported(tmp_path):
    from ner_bilstm.io import ReadReport

    (tmp_path / "d.txt").write_text("Anna B-PER\nParis B-LOC\n\n")
    report = ReadReport()
    sentences = list(read_source(str(tmp_path / "d.txt"), label_map="PER=PERSON,PRE=X,LOC=", report=report))
    assert sentences[0].tags == ["B-PERSON", "O"]
    assert report.summary() == "PER -> PERSON: 1 span; LOC dropped: 1 span; label map entries that matched no entity: PRE"


def test_hf_input_format_refuses_what_is_no_datasets_source(tmp_path):
    from ner_bilstm.tagging import read_documents

    (tmp_path / "t.txt").write_text("Anna Berg\n")
    with pytest.raises(NerError, match="t.txt: not a datasets source"):
        list(read_documents(str(tmp_path / "t.txt"), "hf"))


@pytest.mark.parametrize("typo", ["LOC==ORG", "LOC=ORG;MISC=PER"])
def test_a_label_map_typo_is_refused_not_trained_as_a_type(typo):
    from ner_bilstm.label_map import parse_label_map

    with pytest.raises(ValueError, match="entries are OLD=NEW, separated by commas"):
        parse_label_map(typo)


def test_a_blank_line_ends_a_sentence_a_single_line_break_does_not():
    """An entity must not run across a paragraph break ("Acme Corp\\n\\nLisbon" was one ORG)."""
    from ner_bilstm.io.text import split_sentences

    assert [s.tokens for s in split_sentences("Acme Corp\n \nLisbon is nice.")] == [["Acme", "Corp"], ["Lisbon", "is", "nice", "."]]
    assert [s.tokens for s in split_sentences("Acme Corp\nLisbon is nice.")] == [["Acme", "Corp", "Lisbon", "is", "nice", "."]]
