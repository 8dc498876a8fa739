"""Uploads a file to Coffer with tuspy (https://github.com/tus/tus-py-client), the way an
interrupted client does: one uploader creates the upload and sends a first chunk, then a second
uploader, as a restarted program would, finds the upload URL in tuspy's URL storage, asks the
server where to resume and sends the rest. Every chunk carries tuspy's Upload-Checksum.

Usage: tuspy_resume.py BASE_URL TOKEN SOURCE_FILE TARGET_PATH URL_STORAGE_FILE
Prints one JSON object with what happened, for the test to check.
"""

import json
import sys

from tusclient import client
from tusclient.storage.filestorage import FileStorage

base, token, source, target, storage_file = sys.argv[1:6]
tus = client.TusClient(base + "/api/v1/uploads", headers={"Authorization": "Bearer " + token})
storage = FileStorage(storage_file)
options = dict(
    metadata={"path": target, "filetype": "application/octet-stream"},
    store_url=True,
    url_storage=storage,
    upload_checksum=True,
)

first = tus.uploader(source, chunk_size=3 * 1024 * 1024, **options)
first.upload_chunk()  # creates the upload and sends 3 MiB; then the "program stops"

second = tus.uploader(source, chunk_size=5 * 1024 * 1024, **options)
resumed_from = second.offset  # asked of the server (HEAD) with the stored URL
second.upload()

print(json.dumps({
    "url": first.url,
    "same_url": second.url == first.url,
    "first_offset": first.offset,
    "resumed_from": resumed_from,
    "final_offset": second.offset,
}))
