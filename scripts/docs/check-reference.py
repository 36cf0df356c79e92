#!/usr/bin/env python3
"""The reference in docs/ cannot drift from the code (make test-docs).

Each check extracts names from the sources and from the document that
describes them, and reports every name missing on either side:

  directives   ngx_command_t tables in ngx_realm_auth/src: name, contexts and
               argument count <-> docs/MODULE.md "Directives"
  variables    variables the module registers (variables.cc) <-> docs/MODULE.md
               "Variables"
  reasons      core's Status names and client texts (core/status.cc) <->
               docs/MODULE.md "Refusal reasons"
  status       the auth_realm_status JSON members (zone.cc) <-> docs/MODULE.md
               "Status": its field table and its JSON example
  settings     every variable the sidecar reads (config.cc, getenv) <->
               docs/CONFIGURATION.md settings table <-> `realm-sidecar --help`
               (the usage text in main.cc, or the binary given as --sidecar-bin)
  flags        the sidecar's command-line flags <-> docs/CONFIGURATION.md
               "Command line" <-> --help
  routes       the sidecar's router (api/routes.cc) <-> docs/API.md (the router
               <-> sidecar/openapi.yaml is t/e2e/081-openapi.t's job)
  comment-paths  repository paths named in comments of ngx_realm_auth/, sidecar/,
               scripts/, conf/, t/ exist
  links        relative links (and their #anchors) in every tracked *.md resolve

Python 3 standard library only; reads files, runs nothing but `git ls-files`
(and the sidecar binary when --sidecar-bin is given). Exit 1 with one line
per problem.
"""
import argparse
import os
import re
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
problems = []


def problem(check, text):
    problems.append(f"{check}: {text}")


def read(rel):
    try:
        with open(os.path.join(ROOT, rel), encoding="utf-8") as f:
            return f.read()
    except FileNotFoundError:
        problem("docs", f"{rel} does not exist")
        return ""


def both_ways(check, code, docs, code_name, docs_name):
    for n in sorted(set(code) - set(docs)):
        problem(check, f"{n} is in {code_name} but not in {docs_name}")
    for n in sorted(set(docs) - set(code)):
        problem(check, f"{n} is in {docs_name} but not in {code_name}")


# --- Markdown --------------------------------------------------------------

def section(text, heading, rel):
    """Lines under `heading` (exact heading line) up to the next heading of
    the same or a higher level."""
    level = len(heading) - len(heading.lstrip("#"))
    lines = text.splitlines()
    try:
        start = lines.index(heading)
    except ValueError:
        problem("docs", f"{rel} has no heading '{heading}'")
        return []
    out = []
    fence = False
    for line in lines[start + 1:]:
        if line.startswith("```"):
            fence = not fence
        m = re.match(r"(#+) ", line)
        if m and not fence and len(m.group(1)) <= level:
            break
        out.append(line)
    return out


def table_rows(lines):
    rows = []
    for line in lines:
        if not line.startswith("|"):
            continue
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        if all(re.fullmatch(r":?-+:?", c) for c in cells):
            continue
        rows.append(cells)
    return rows[1:] if rows else rows  # the header row


def code_spans(cell):
    return re.findall(r"`([^`]+)`", cell)


# --- C/C++ sources ---------------------------------------------------------

def c_literals(text):
    """Concatenated contents of the string literals in a piece of C++."""
    return "".join(
        bytes(m, "utf-8").decode("unicode_escape") for m in re.findall(r'"((?:[^"\\]|\\.)*)"', text))


def function_body(text, signature, rel):
    at = text.find(signature)
    if at < 0:
        problem("source", f"{rel}: '{signature}' not found")
        return ""
    start = text.index("{", at)
    depth = 0
    for i in range(start, len(text)):
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        if depth == 0:
            return text[start:i + 1]
    return text[start:]


# --- directives ------------------------------------------------------------

CONTEXTS = {"NGX_HTTP_MAIN_CONF": "http", "NGX_HTTP_SRV_CONF": "server",
            "NGX_HTTP_LOC_CONF": "location"}
ARITY = {"NGX_CONF_NOARGS": (0, 0), "NGX_CONF_TAKE1": (1, 1), "NGX_CONF_TAKE2": (2, 2),
         "NGX_CONF_FLAG": (1, 1), "NGX_CONF_1MORE": (1, None), "NGX_CONF_2MORE": (2, None)}


def code_directives():
    out = {}
    for name in sorted(os.listdir(os.path.join(ROOT, "ngx_realm_auth/src"))):
        rel = f"ngx_realm_auth/src/{name}"
        if not name.endswith(".cc"):
            continue
        text = read(rel)
        defines = dict(re.findall(r"#define\s+(\w+)\s+\(([^)]*)\)", text))
        table = re.search(r"ngx_command_t\s+\w+\[\]\s*=\s*\{(.*?)ngx_null_command", text, re.S)
        if not table:
            continue
        for d, flags in re.findall(r'\{ngx_string\("(\w+)"\),\s*([^,]+),', table.group(1)):
            words = set()
            for w in re.findall(r"\w+", flags):
                words |= set(re.findall(r"\w+", defines.get(w, w)))
            ctx = {CONTEXTS[w] for w in words if w in CONTEXTS}
            arity = [ARITY[w] for w in words if w in ARITY]
            out[d] = (ctx, arity[0] if len(arity) == 1 else None, "NGX_CONF_FLAG" in words, rel)
    return out


def doc_arity(args):
    """(required, variadic) of a documented syntax such as
    `host:port hmac_key_file=… [user=… password_file=…]` or `alg …`."""
    depth, required, variadic = 0, 0, False
    for tok in args.split():
        if tok.startswith("["):
            depth += tok.count("[")
            variadic = True
        if tok in ("…", "..."):
            variadic = True
        elif depth == 0:
            required += 1
        if depth:
            depth -= tok.count("]")
    return required, variadic


def check_directives():
    code = code_directives()
    rows = table_rows(section(read("docs/MODULE.md"), "## Directives", "docs/MODULE.md"))
    docs = {}
    for cells in rows:
        spans = code_spans(cells[0])
        if not spans:
            continue
        syntax = spans[0].replace("\\|", "|")
        name, _, args = syntax.partition(" ")
        ctx = {c.strip() for c in cells[1].split(",")} if len(cells) > 1 else set()
        docs[name] = (ctx, args.strip())
    both_ways("directives", code, docs, "ngx_realm_auth/src (ngx_command_t)",
              "docs/MODULE.md Directives")
    for name in sorted(set(code) & set(docs)):
        ctx, arity, flag, rel = code[name]
        dctx, args = docs[name]
        if ctx != dctx:
            problem("directives", f"{name}: contexts in {rel} are {', '.join(sorted(ctx))}; "
                    f"docs/MODULE.md says {', '.join(sorted(dctx))}")
        if flag and args != "on|off":
            problem("directives", f"{name} is a flag (on|off) in {rel}; docs/MODULE.md says `{args}`")
            continue
        if arity is None:
            continue
        lo, hi = arity
        required, variadic = doc_arity(args)
        fits = required == lo and not variadic if hi == lo else (
            required >= lo and (variadic or required > lo) if hi is None else True)
        if not fits:
            want = f"{lo}" if hi == lo else f"{lo} or more"
            problem("directives", f"{name} takes {want} argument(s) in {rel}; "
                    f"docs/MODULE.md documents `{args or '(none)'}`")


# --- variables -------------------------------------------------------------

def check_variables():
    text = read("ngx_realm_auth/src/variables.cc")
    code = set()
    table = re.search(r"kIdentityVariables\[\]\s*=\s*\{(.*?)\};", text, re.S)
    code |= {"$" + n for n in re.findall(r'\{"(\w+)",\s*Field::', table.group(1) if table else "")}
    for n, flags in re.findall(r'add\(cf,\s*"(\w+)",\s*([^,]+),', text):
        code.add("$" + n + ("<name>" if "NGX_HTTP_VAR_PREFIX" in flags else ""))
    for name in sorted(os.listdir(os.path.join(ROOT, "ngx_realm_auth/src"))):
        if name != "variables.cc" and "ngx_http_add_variable" in read(f"ngx_realm_auth/src/{name}"):
            problem("variables", f"ngx_realm_auth/src/{name} registers variables this check "
                    "does not read (teach scripts/docs/check-reference.py)")
    rows = table_rows(section(read("docs/MODULE.md"), "## Variables", "docs/MODULE.md"))
    docs = {code_spans(c[0])[0] for c in rows if code_spans(c[0])}
    both_ways("variables", code, docs, "ngx_realm_auth/src/variables.cc", "docs/MODULE.md Variables")


# --- refusal reasons -------------------------------------------------------

def code_reasons():
    text = read("ngx_realm_auth/core/status.cc")
    table = re.search(r"kTexts\[\]\s*=\s*\{(.*?)\};", text, re.S)
    pairs = re.findall(r'\{"(\w+)",\s*"([^"]*)"\}', table.group(1) if table else "")
    return {n: d for n, d in pairs if n != "ok"}


def check_reasons():
    code = code_reasons()
    rows = table_rows(section(read("docs/MODULE.md"), "### Refusal reasons", "docs/MODULE.md"))
    docs = {}
    for c in rows:
        spans = code_spans(c[0])
        if spans:
            docs[spans[0]] = c[1].strip('"') if len(c) > 1 else ""
    both_ways("reasons", code, docs, "ngx_realm_auth/core/status.cc", "docs/MODULE.md Refusal reasons")
    for n in sorted(set(code) & set(docs)):
        if code[n] != docs[n]:
            problem("reasons", f"{n}: the client text is \"{code[n]}\" in core/status.cc; "
                    f"docs/MODULE.md says \"{docs[n]}\"")


# --- status document -------------------------------------------------------

def json_paths(text):
    """Dotted member paths of a JSON-shaped text (values may be `…`)."""
    paths, stack, last = set(), [], None
    for m in re.finditer(r'"([\w<>]+)"\s*:|[{}]', text):
        tok = m.group(0)
        if tok == "{":
            stack.append(last)
            last = None
        elif tok == "}":
            if stack:
                stack.pop()
        else:
            last = m.group(1)
            paths.add(".".join([s for s in stack if s] + [last]))
    return leaves(paths)


def leaves(paths):
    """Without the objects: `jwks` when `jwks.zone_hits` is there."""
    return {p for p in paths if not any(q.startswith(p + ".") for q in paths)}


def check_status():
    text = read("ngx_realm_auth/src/zone.cc")
    body = function_body(text, "ngx_str_t Zone::status_json(", "ngx_realm_auth/src/zone.cc")
    rev = function_body(text, "std::string Zone::revocation_json(", "ngx_realm_auth/src/zone.cc")
    # refused's members are the refusal reasons (status_name), revocation's come
    # from revocation_json(), spliced in where status_json calls it.
    skeleton = c_literals(body.replace("refused + ", '"\\"<reason>\\":0" + ').replace(
        "revocation_json()", '"' + c_literals(rev).replace('"', '\\"') + '"'))
    code = json_paths(skeleton)
    lines = section(read("docs/MODULE.md"), "## Status", "docs/MODULE.md")
    lines = lines[:next((i for i, l in enumerate(lines) if l.startswith("### ")), len(lines))]
    docs = set()
    for c in table_rows(lines):
        docs |= {s for s in code_spans(c[0]) if re.fullmatch(r"[\w.<>]+", s)}
    docs = leaves(docs)
    both_ways("status", code, docs, "ngx_realm_auth/src/zone.cc (status_json)",
              "docs/MODULE.md Status field table")
    block = "\n".join(lines)
    m = re.search(r"```json\n(.*?)```", block, re.S)
    example = json_paths(m.group(1)) if m else set()
    # the example shows real reason names under "refused"
    example = {("refused.<reason>" if p.startswith("refused.") else p) for p in example}
    both_ways("status", code, example, "ngx_realm_auth/src/zone.cc (status_json)",
              "docs/MODULE.md Status JSON example")


# --- sidecar settings, flags and --help --------------------------------------

def code_settings():
    names = {}
    text = read("sidecar/src/config.cc")
    for n in re.findall(r'(?:\bhas|\bget|vars\.count|vars\.at)\("([A-Z][A-Z0-9_]*)"\)', text):
        names[n] = "sidecar/src/config.cc"
    for dirpath, _, files in os.walk(os.path.join(ROOT, "sidecar/src")):
        for f in files:
            rel = os.path.relpath(os.path.join(dirpath, f), ROOT)
            for n in re.findall(r'getenv\("([A-Z][A-Z0-9_]*)"\)', read(rel)):
                names[n] = rel
    return names


def usage_text(sidecar_bin):
    if sidecar_bin:
        return subprocess.run([sidecar_bin, "--help"], check=True, capture_output=True,
                              text=True).stdout
    text = read("sidecar/src/main.cc")
    m = re.search(r"const char kUsage\[\]\s*=(.*?);\n", text, re.S)
    return c_literals(m.group(1)) if m else ""


def check_settings(sidecar_bin):
    code = code_settings()
    rows = table_rows(section(read("docs/CONFIGURATION.md"), "## realm-sidecar settings",
                              "docs/CONFIGURATION.md"))
    docs = set()
    for c in rows:
        docs |= {s for s in code_spans(c[0]) if re.fullmatch(r"[A-Z][A-Z0-9_]+", s)}
    both_ways("settings", code, docs, "the sidecar's sources", "docs/CONFIGURATION.md settings")
    usage = usage_text(sidecar_bin)
    config_part = usage[usage.find("configuration:"):] if "configuration:" in usage else ""
    helped = set(re.findall(r"\b[A-Z][A-Z0-9]*_[A-Z0-9_]+\b", config_part))
    # Fault-injection switches exist only in the realm-sidecar-fault test build.
    wanted = {n for n, rel in code.items() if not rel.startswith("sidecar/src/fault/")}
    both_ways("settings", wanted, helped, "the sidecar's sources", "realm-sidecar --help")

    main = read("sidecar/src/main.cc")
    flags = set(re.findall(r'"(--[a-z][a-z-]*)"', main))
    cl = "\n".join(section(read("docs/CONFIGURATION.md"), "## Command line", "docs/CONFIGURATION.md"))
    for f in sorted(flags):
        if not re.search(re.escape(f) + r"\b", cl):
            problem("flags", f"{f} (sidecar/src/main.cc) is not in docs/CONFIGURATION.md Command line")
        if not re.search(re.escape(f) + r"\b", usage):
            problem("flags", f"{f} (sidecar/src/main.cc) is not in realm-sidecar --help")
    for f in sorted(set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", cl)) - flags):
        problem("flags", f"{f} is in docs/CONFIGURATION.md Command line but sidecar/src/main.cc "
                "does not read it")


# --- API routes --------------------------------------------------------------

def check_routes():
    text = read("sidecar/src/api/routes.cc")
    body = function_body(text, "std::vector<Route> api_routes(", "sidecar/src/api/routes.cc")
    code = {f"{m} {p}" for m, p in re.findall(r'\{"(GET|POST|PUT|PATCH|DELETE)",\s*"([^"]+)"', body)}
    docs = set()
    for c in table_rows(section(read("docs/API.md"), "## Routes", "docs/API.md")):
        spans = code_spans(c[0])
        m = re.match(r"(GET|POST|PUT|PATCH|DELETE) (/[^\s?]*)", spans[0]) if spans else None
        if m:
            docs.add(f"{m.group(1)} {m.group(2)}")
    both_ways("routes", code, docs, "sidecar/src/api/routes.cc", "docs/API.md Routes")


# --- paths in comments -------------------------------------------------------

C_LIKE = (".cc", ".h", ".c", ".cpp")
HASH = (".sh", ".pl", ".pm", ".t", ".py", ".in", ".env", ".yaml", ".yml", ".mk", ".rego",
        ".cmake", ".txt", ".conf")
DASH = (".sql", ".lua")
EXTENSIONS = ("md", "t", "cc", "h", "c", "sh", "pl", "pm", "py", "rego", "conf", "in", "sql",
              "json", "yaml", "yml", "env", "txt", "service", "mk", "lua", "js", "html", "css",
              "cmake", "key")


def c_comments(text):
    out, i, n = [], 0, len(text)
    while i < n:
        ch = text[i]
        if ch in "\"'":
            j = i + 1
            while j < n and text[j] != ch and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            i = j + 1
        elif text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append((text.count("\n", 0, i) + 1, text[i + 2:j]))
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j
            out.append((text.count("\n", 0, i) + 1, text[i + 2:j]))
            i = j + 2
        else:
            i += 1
    return out


def line_comments(text, marker):
    out = []
    for no, line in enumerate(text.splitlines(), 1):
        if no == 1 and line.startswith("#!"):
            continue
        quote = None
        for i, ch in enumerate(line):
            if quote:
                if ch == quote:
                    quote = None
            elif ch in "\"'":
                quote = ch
            elif line.startswith(marker, i) and (i == 0 or line[i - 1] in " \t"):
                if marker == "#" and line.startswith("#{", i):  # Perl/shell, not a comment
                    continue
                out.append((no, line[i + len(marker):]))
                break
    return out


def comments_of(rel, text):
    base = os.path.basename(rel)
    if rel.endswith(C_LIKE):
        return c_comments(text)
    if rel.endswith(DASH):
        return line_comments(text, "--")
    if rel.endswith(HASH) or base in ("Makefile", "CMakeLists.txt"):
        return line_comments(text, "#")
    return []


def path_exists(token, rel):
    """A repository path named in rel's comment: tried from the repository
    root, from rel's directory and each of its parents, and from the module
    (core/…, src/…, as the sidecar names the shared library)."""
    token = token.rstrip(".,:;)")
    bases = [ROOT, os.path.join(ROOT, "ngx_realm_auth"), os.path.join(ROOT, "sidecar/src")]
    d = os.path.dirname(os.path.join(ROOT, rel))
    while d.startswith(ROOT):
        bases.append(d)
        d = os.path.dirname(d)
    for b in bases:
        p = os.path.join(b, token)
        if os.path.exists(p):
            return True
        # t/module/185, migrations/0007 (a file by its number), src/tenant_state
        # (a .h/.cc pair by its stem)
        parent, stem = os.path.split(p)
        if os.path.isdir(parent) and any(
                f.startswith((stem + "-", stem + "_") if stem.isdigit() else stem + ".")
                for f in os.listdir(parent)):
            return True
        # sidecar/src/config.{h,cc}
        m = re.fullmatch(r"(.*)\{([\w,]+)\}", p)
        if m and all(os.path.exists(m.group(1) + e) for e in m.group(2).split(",")):
            return True
    return False


def first_dir_exists(token, rel):
    """Whether the path's first directory is one of this repository's (from
    the same bases as path_exists): `objs/ngx_auto_config.h` (nginx's build
    tree) or `internal/stack.h` (RapidJSON's) name other projects' files."""
    first = token.split("/", 1)[0]
    bases = [ROOT, os.path.join(ROOT, "ngx_realm_auth"), os.path.join(ROOT, "sidecar/src")]
    d = os.path.dirname(os.path.join(ROOT, rel))
    while d.startswith(ROOT):
        bases.append(d)
        d = os.path.dirname(d)
    return any(os.path.isdir(os.path.join(b, first)) for b in bases)


def looks_like_repo_path(token, rel):
    if re.search(r"://|[$<>~%@=*]", token) or token.startswith(("/", "-", "path/to/")) or (
            token.startswith(".") and not token.startswith("../")):
        return False
    if re.search(r"(?:^|/)(?:NAME|N+|X+)(?:[_./-]|$)", token):  # placeholders: scripts/NAME.sh
        return False
    last = token.split("/")[-1]
    if re.search(r"\.(?:" + "|".join(EXTENSIONS) + r")(?:\{[\w,]+\})?$", last):
        return first_dir_exists(token, rel)
    # without an extension (t/module/185, src/tenant_state) only from a
    # top-level directory: provisioning/failed or http/https are prose
    return token.split("/", 1)[0] in TOP_DIRS


TOP_DIRS = {"docs", "t", "scripts", "conf", "sidecar", "ngx_realm_auth", "migrations", "bench",
            "debian", "mk", "console", "docker", "src", "core"}


def git_ignored(paths):
    if not paths:
        return set()
    out = subprocess.run(["git", "-C", ROOT, "check-ignore", "--no-index", "--stdin"],
                         input="\n".join(p + s for p in paths for s in ("", "/")),
                         capture_output=True, text=True).stdout
    return {p.rstrip("/") for p in out.split()}


def check_comment_paths(files):
    missing = []
    for rel in files:
        if not rel.startswith(("ngx_realm_auth/", "sidecar/", "scripts/", "conf/", "t/")):
            continue
        try:
            text = read(rel)
        except (UnicodeDecodeError, FileNotFoundError, IsADirectoryError):
            continue
        for no, comment in comments_of(rel, text):
            comment = re.sub(r"\$\{[^}]*\}|\$\([^)]*\)", "", comment)
            for token in re.findall(r"(?<![\w./@:$-])((?:[\w.{},-]+/)+[\w.{},*-]+)", comment):
                token = token.rstrip(".,:;)")
                if "/" not in token or not looks_like_repo_path(token, rel):
                    continue
                if not path_exists(token, rel):
                    missing.append((rel, no, token))
    # t/servroot_*: what the suites write at run time (.gitignore) is no stale name
    ignored = git_ignored([t for _, _, t in missing])
    for rel, no, token in missing:
        if token not in ignored:
            problem("comment-paths", f"{rel}:{no}: {token} does not exist")


# --- Markdown links -----------------------------------------------------------

# Files that links may name before they exist, and what writes them.
GENERATED = {"bench/results/latest.md": "bench/bench.sh"}


def anchors(rel):
    text = read(rel)
    seen, out, fence = {}, set(), False
    for line in text.splitlines():
        if line.startswith("```"):
            fence = not fence
        m = None if fence else re.match(r"#{1,6} (.*)", line)
        if not m:
            continue
        title = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", m.group(1)).strip().lower()
        slug = re.sub(r"[^\w\- ]", "", title).replace(" ", "-")
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        out.add(slug if n == 0 else f"{slug}-{n}")
    return out


def check_links(files):
    for rel in files:
        if not rel.endswith(".md"):
            continue
        text = read(rel)
        text = re.sub(r"```.*?```", "", text, flags=re.S)
        text = re.sub(r"`[^`\n]*`", "", text)
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target):
                continue
            path, _, anchor = target.partition("#")
            dest = os.path.normpath(os.path.join(os.path.dirname(rel), path)) if path else rel
            if not os.path.exists(os.path.join(ROOT, dest)):
                gen = GENERATED.get(dest)
                if gen and dest in read(gen):
                    continue
                problem("links", f"{rel}: ({target}): {dest} does not exist")
                continue
            if anchor and dest.endswith(".md") and anchor not in anchors(dest):
                problem("links", f"{rel}: ({target}): {dest} has no section #{anchor}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sidecar-bin", help="compare this binary's --help instead of main.cc's text")
    args = ap.parse_args()
    files = subprocess.run(["git", "-C", ROOT, "ls-files"], check=True, capture_output=True,
                           text=True).stdout.split()
    files = [f for f in files if os.path.isfile(os.path.join(ROOT, f))]
    check_directives()
    check_variables()
    check_reasons()
    check_status()
    check_settings(args.sidecar_bin)
    check_routes()
    check_comment_paths(files)
    check_links(files)
    for p in problems:
        print(p)
    counts = {}
    for p in problems:
        counts[p.split(":", 1)[0]] = counts.get(p.split(":", 1)[0], 0) + 1
    summary = ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "none"
    print(f"check-reference: {len(problems)} problem(s) ({summary})")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
