"""kg.lean: kg's processes import spaCy without its command line, which stays there when asked for."""

import pytest

from .test_scale import extraction_worker_output, python_output


def test_spacy_imports_without_its_command_line_and_the_pipeline_modules_load():
    code = (
        "import sys, kg.lean, spacy, kg.ner.components\n"
        "print(sorted(m for m in sys.modules if m.startswith('spacy.cli')), 'typer' in sys.modules, 'weasel' in sys.modules)"
    )
    assert python_output(code) == "['spacy.cli', 'spacy.cli.info'] False False"


def test_what_is_asked_of_the_command_line_imports_it():
    code = (
        "import sys, kg.lean, spacy\n"
        "assert spacy.info()['spacy_version'] == spacy.__version__\n"  # spacy.info, called
        "from spacy.cli import download\n"
        "import spacy.cli.init_config\n"
        "print(callable(download), type(sys.modules['spacy.cli']).__name__, 'typer' in sys.modules)"
    )
    assert python_output(code) == "True module True"


def test_a_submodule_asked_for_first_imports_from_spacys_folder():
    code = "import kg.lean, spacy.cli.init_config as m\nprint(callable(m.init_config))"
    assert python_output(code) == "True"


def test_spacy_imported_already_is_left_as_it_is():
    code = "import spacy, kg.lean, sys\nprint(kg.lean.defer_spacy_cli(), type(sys.modules['spacy.cli']).__name__)"
    assert python_output(code) == "False module"


def test_a_library_import_of_kg_leaves_spacy_whole():
    code = "import sys, kg, kg.build, kg.ner.components, kg.api\nprint(type(sys.modules['spacy.cli']).__name__, 'typer' in sys.modules)"
    assert python_output(code) == "module True"


@pytest.mark.slow
def test_the_extraction_pool_workers_import_spacy_without_its_command_line():
    probe = "(lambda s: (type(s.modules['spacy.cli']).__name__, 'typer' in s.modules, 'spacy' in s.modules))(__import__('sys'))"
    body = f"print(pool.apply(eval, ({probe!r},)))\n"
    assert extraction_worker_output(body) == "('_Deferred', False, True)"
