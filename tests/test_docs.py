#!/usr/bin/env python3
"""The README and the pages under doc/ stay one set, and agree with the
man page: the README is a first page (at most 260 lines) that links every
page and keeps the test command; every relative link and #anchor leads
somewhere; and where the man page and the pages share a table (the xattrs,
the -o options), each names what the other does.

Reads files only: it mounts nothing, so it runs anywhere, /dev/fuse or not.
Prints TAP, as every test here does."""
import os
import re
import sys
import traceback

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(ROOT, "README.md")
DOC = os.path.join(ROOT, "doc")
MAN = os.path.join(DOC, "ipcfs.1")

README_MAX_LINES = 260
TEST_COMMAND = "sh scripts/test.sh"
XATTR = re.compile(r"user\.[a-z]+\.[a-z_]+")
# "-o NAME": not part of a longer word or option ("--only"), on one line.
OPTION = re.compile(r'(?<![\w-])-o[ "]+([a-z][a-z_]*)')
# Placeholders, not options: the man page's "-o options" (OPTIONS in the
# pages is upper case, so never matches).
NOT_OPTIONS = {"options"}
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")  # [text](target); text may hold a newline


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def doc_pages():
    return sorted(os.path.join(DOC, n) for n in os.listdir(DOC) if n.endswith(".md"))


def markdown_files():
    return [README] + doc_pages()


def rel(path):
    return os.path.relpath(path, ROOT)


def prose(text):
    """The lines of a Markdown text outside fenced code blocks, with inline
    code spans left in (a link's text may hold one)."""
    out, fenced = [], False
    for line in text.split("\n"):
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if not fenced:
            out.append(line)
    return out


def anchor(heading):
    """GitHub's anchor of a heading: lower case, punctuation but '-' and
    '_' dropped, each space a '-'."""
    text = heading.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path):
    """Every anchor of a Markdown file, a repeated heading's as GitHub
    numbers it (name, name-1, name-2 ...)."""
    seen, result = {}, set()
    for line in prose(read(path)):
        m = re.match(r"#{1,6} +(.*?) *#* *$", line)
        if not m:
            continue
        a = anchor(m.group(1))
        n = seen.get(a, 0)
        seen[a] = n + 1
        result.add(a if n == 0 else "%s-%d" % (a, n))
    return result


def links(path):
    """The relative links of a Markdown file, outside code blocks: their
    targets. A link's text may run over two lines."""
    text = "\n".join(prose(read(path)))
    # A code span is no link: drop those that stand alone, keep those
    # that are a link's text.
    text = re.sub(r"(?<!\[)`[^`\n]*`(?!\])", "", text)
    return [t for t in LINK.findall(text) if not re.match(r"[a-z]+:", t)]


def check(condition, message):
    if not condition:
        raise AssertionError(message)


def test_readme_is_short():
    count = read(README).count("\n")
    check(count <= README_MAX_LINES,
          "README.md has %d lines, at most %d wanted" % (count, README_MAX_LINES))


def test_readme_links_every_page():
    targets = {os.path.normpath(os.path.join(ROOT, t.split("#")[0]))
               for t in links(README) if t.split("#")[0]}
    missing = [rel(p) for p in doc_pages() if p not in targets]
    check(not missing, "not linked from README.md: %s" % ", ".join(missing))


def test_relative_links_lead_somewhere():
    broken = []
    for path in markdown_files():
        for target in links(path):
            file_part, _, fragment = target.partition("#")
            dest = os.path.normpath(os.path.join(os.path.dirname(path), file_part)) \
                if file_part else path
            if not os.path.exists(dest):
                broken.append("%s: %s: no such file" % (rel(path), target))
            elif fragment and (not dest.endswith(".md") or fragment not in anchors(dest)):
                broken.append("%s: %s: no such heading" % (rel(path), target))
    check(not broken, "broken links:\n" + "\n".join(broken))


def test_readme_keeps_the_test_command():
    # CI runs "the README's test command": the line may carry a comment.
    commands = [line.split("#")[0].strip() for line in read(README).split("\n")]
    check(TEST_COMMAND in commands, "README.md has no line %r" % TEST_COMMAND)


def compare(what, in_man, in_docs, docs_name):
    only_man = sorted(in_man - in_docs)
    only_docs = sorted(in_docs - in_man)
    problems = []
    if only_man:
        problems.append("%s in doc/ipcfs.1 but not in %s: %s"
                        % (what, docs_name, ", ".join(only_man)))
    if only_docs:
        problems.append("%s in %s but not in doc/ipcfs.1: %s"
                        % (what, docs_name, ", ".join(only_docs)))
    check(not problems, "\n".join(problems))


def test_man_page_and_pages_name_the_same_xattrs():
    in_docs = set()
    for path in markdown_files():
        in_docs |= set(XATTR.findall(read(path)))
    compare("xattrs", set(XATTR.findall(read(MAN))), in_docs, "README.md and doc/*.md")


def man_options():
    # troff writes a minus as "\-"; an option's name may follow a quoted space.
    return set(OPTION.findall(read(MAN).replace("\\-", "-"))) - NOT_OPTIONS


def test_man_page_and_running_name_the_same_options():
    running = os.path.join(DOC, "running.md")
    in_docs = set(OPTION.findall(read(running))) - NOT_OPTIONS
    compare("-o options", man_options(), in_docs, "doc/running.md")


def run(namespace):
    tests = [(n, f) for n, f in namespace.items() if n.startswith("test_") and callable(f)]
    failed = 0
    for i, (name, fn) in enumerate(tests, 1):
        try:
            fn()
            print("ok %d - %s" % (i, name), flush=True)
        except Exception:
            failed += 1
            print("not ok %d - %s" % (i, name), flush=True)
            for line in traceback.format_exc().splitlines():
                print("#   " + line, flush=True)
            # Where meson's --print-errorlogs shows it, as ipcfs_test.run does.
            print("%s failed:\n%s" % (name, traceback.format_exc()[-6000:]), file=sys.stderr,
                  flush=True)
    print("1..%d" % len(tests))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    run(globals())
