"""SIGINT (Ctrl-C) in a workflow job: one line, the status 130, clean-up done, no traceback."""
import subprocess
import sys

CODE = """
import os, signal, sys, time
from gaussdsm import interrupt

class Smk:
    rule = "run_sampler"
    wildcards = {"study": "s", "chunk": "001"}

interrupt.on_sigint(Smk())
try:
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(5)
finally:
    print("cleaned up", flush=True)
"""


def test_sigint_ends_a_job_with_one_line_and_status_130():
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, timeout=60)
    assert out.returncode == 130, (out.returncode, out.stderr)
    assert out.stderr == "run_sampler [study=s, chunk=001]: interrupted (SIGINT), exit status 130\n", out.stderr
    assert out.stdout == "cleaned up\n"  # finally blocks run (a partly written result is removed)


def test_the_module_imports_nothing_heavy():
    """It is installed before the package's imports: importing it loads neither numpy nor xarray."""
    code = "import sys, gaussdsm.interrupt; print(sorted({'numpy', 'xarray'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"
