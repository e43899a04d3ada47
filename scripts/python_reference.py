"""Write the quickstart's default corpus: the Python Language Reference text that ships inside CPython
(pydoc_data.topics), so nothing is downloaded. Usage: python scripts/python_reference.py OUT.txt"""

import sys
from pydoc_data.topics import topics

if __name__ == "__main__":
    with open(sys.argv[1], "w", encoding="utf-8") as f:
        f.write("\n".join(topics[name] for name in sorted(topics)) + "\n")
