"""The command line as a new user meets it (issue 16): hints that work when pasted, and
`photofind library list | remove FOLDER`."""

from __future__ import annotations

import shlex
import shutil

import pytest
from conftest import write_random_model
from imagezoo import picture, save, snapshot

from photofind.hints import quote


def photos(folder, count, start=0):
    for i in range(start, start + count):
        save(picture(i), folder / f"p{i:03d}.jpg", quality=85)
    return folder


def run(capsys, argv: list[str]) -> tuple[int, str, str]:
    from photofind.cli import main

    capsys.readouterr()
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_the_demo_ends_with_hints_that_work_when_pasted(cli, capsys, data_dir):
    out = cli("demo", "--count", "24")
    lines = {line.split(":", 1)[0].strip(): line.split(":", 1)[1].strip()
             for line in out.splitlines() if line.startswith(("Now try", "or open"))}
    flag = f"photofind --data-dir {quote(str(data_dir))}"
    assert lines["Now try your own"].startswith(f"{flag} search ")
    assert lines["or open the desktop app"] == f"{flag} gui"
    assert f'\n{flag} search "red circle"\n' in out
    # pasted as printed, from another directory's shell: it searches the demo library
    argv = shlex.split(lines["Now try your own"])
    assert argv[0] == "photofind"
    code, found, err = run(capsys, argv[1:])
    assert code == 0, err
    assert "demo-library" in found and "No matching photos" not in found


def test_error_hints_name_the_data_directory(capsys, tmp_path, tiny_model):
    data = tmp_path / "my data"  # a space: the hint quotes it
    code, _out, err = run(capsys, ["--data-dir", str(data), "status"])
    assert code == 0
    code, out, err = run(capsys, ["--data-dir", str(data), "status"])
    assert f"run 'photofind --data-dir \"{data}\" index FOLDER'" in out
    code, out, err = run(capsys, ["--data-dir", str(data), "library", "list"])
    assert code == 0
    hint = out.split("run '")[1].split("'")[0]
    assert hint == f'photofind --data-dir "{data}" index FOLDER'
    lib = photos(tmp_path / "Pictures", 2)
    argv = shlex.split(hint.replace("FOLDER", str(lib)))[1:] + ["--model", tiny_model]
    code, out, err = run(capsys, argv)  # pasted with the folder filled in: it works
    assert code == 0, err
    assert "2 added" in out


def test_hints_for_the_default_data_directory_stay_short(capsys, tmp_path, monkeypatch):
    from photofind import hints

    data = tmp_path / "default"
    monkeypatch.setattr(hints, "default_root", lambda: data)
    code, out, _err = run(capsys, ["--data-dir", str(data), "library", "list"])
    assert code == 0 and "run 'photofind index FOLDER'" in out


@pytest.fixture
def two_folders(cli, tmp_path, tiny_model):
    a = photos(tmp_path / "Pictures" / "trips", 3)
    b = photos(tmp_path / "Pictures" / "scans", 2, start=10)
    cli.json("index", a, b, "--model", tiny_model)
    return a.resolve(), b.resolve()


def test_library_list_shows_each_folder_with_its_photos(cli, two_folders):
    a, b = two_folders
    listed = cli.json("library", "list")
    assert listed == {"roots": [{"path": str(b), "photos": 2, "online": True},
                                {"path": str(a), "photos": 3, "online": True}]}
    text = cli("library", "list")
    assert [line.split() for line in text.splitlines()] == [
        ["2", "photos", str(b)], ["3", "photos", str(a)]]
    b.rename(b.parent / "unplugged")
    assert "(offline: its photos are kept)" in cli("library", "list").splitlines()[0]


def test_library_remove_forgets_a_folder_and_leaves_its_files(cli, two_folders, tmp_path):
    a, b = two_folders
    before = snapshot(b)
    removed = cli.json("library", "remove", str(b) + "/")
    assert removed == {"removed": str(b), "photos": 2}
    assert cli.json("library", "list")["roots"] == [{"path": str(a), "photos": 3,
                                                     "online": True}]
    assert cli.json("status")["photos"] == 3
    found = {r["path"] for r in cli.json("search", "anything", "--limit", 50)["results"]}
    assert found == {str(p) for p in a.iterdir()}
    assert snapshot(b) == before  # the files themselves are untouched
    cli("library", "remove", str(b), expect=1)
    assert "is not a library folder; 'photofind --data-dir" in cli.err
    assert "library list' shows them" in cli.err
    text = cli("library", "remove", str(a))
    assert text.startswith(f"Removed {a} from the library: its 3 photos left")
    assert cli.json("status")["photos"] == 0


def test_library_remove_works_offline_and_without_the_model(cli, tmp_path):
    model = write_random_model(tmp_path / "model-copy", seed=3)
    a = photos(tmp_path / "lib" / "a", 2)
    drive = photos(tmp_path / "lib" / "drive", 2, start=5)
    cli.json("index", a, drive, "--model", f"local-dir:{model}")
    stored = str(drive.resolve())
    drive.rename(tmp_path / "unplugged")  # the drive is gone,
    shutil.rmtree(model)  # and so is the model: removing a folder needs neither
    assert cli.json("library", "remove", stored) == {"removed": stored, "photos": 2}
    assert cli.json("status")["photos"] == 2


def test_library_remove_is_refused_while_another_photofind_writes(cli, two_folders):
    from photofind.core.store.datadir import DataDir
    from photofind.core.store.lock import WriterLock

    a, _b = two_folders
    with WriterLock(DataDir(cli.data_dir).lock, "watch"):
        cli("library", "remove", str(a), expect=1)
    assert "'photofind watch') is updating the index" in cli.err
    assert cli.json("library", "list")["roots"][1]["path"] == str(a)


def test_an_empty_search_is_a_usage_error(cli, two_folders):
    for text in ("", "   "):
        cli("search", text, expect=2)
        assert cli.err.startswith("photofind: error: the search text is empty")
        assert cli.err.count("\n") == 1


def test_a_query_longer_than_the_model_reads_says_so(cli, two_folders):
    words = ("a sunny beach with children building a tall sand castle next to a red bucket "
             "while their dog runs along the water and two sailing boats pass far out at "
             "sea under a few white clouds in the late afternoon light").split()
    found = cli.json("search", " ".join(words))
    assert len(found["results"]) == 5
    # the tiny model reads 30 tokens: these words are one token each
    assert cli.err == (f"photofind: only the first 30 of your {len(words)} words were used: "
                       "the model reads no more\n")
    cli.json("search", "a sunny beach")
    assert cli.err == ""
