// Uploads files to Coffer with tus-js-client (https://github.com/tus/tus-js-client) on Node:
// 1. a large file in 5 MiB chunks whose upload is aborted after its first chunk, then resumed by
//    a new Upload from its URL (as a reloaded page or a restarted program would), which asks the
//    server where to continue;
// 2. a small file sent whole with the creation request (uploadDataDuringCreation).
//
// Usage: node tus_js_resume.cjs BASE_URL TOKEN LARGE_FILE LARGE_TARGET SMALL_FILE SMALL_TARGET
// (NODE_PATH must reach tus-js-client.) Prints one JSON object for the test to check.

const fs = require('fs')
const tus = require('tus-js-client')

const [base, token, largeFile, largeTarget, smallFile, smallTarget] = process.argv.slice(2)
const endpoint = `${base}/api/v1/uploads`
const headers = { Authorization: `Bearer ${token}` }

function upload(data, options) {
  return new Promise((resolve, reject) => {
    const job = new tus.Upload(data, {
      endpoint,
      headers,
      retryDelays: null,
      ...options,
      onError: reject,
      onSuccess: () => resolve(job),
    })
    if (options.abortAfterFirstChunk) {
      job.options.onChunkComplete = () => {
        if (!job.stopped) {
          job.stopped = true
          job.abort().then(() => resolve(job), reject)
        }
      }
    }
    job.start()
  })
}

async function offsetOf(url) {
  const response = await fetch(url, { method: 'HEAD', headers: { ...headers, 'Tus-Resumable': '1.0.0' } })
  return Number(response.headers.get('upload-offset'))
}

async function main() {
  const large = fs.readFileSync(largeFile)
  const metadata = { path: largeTarget, filetype: 'application/octet-stream' }
  const chunked = { metadata, chunkSize: 5 * 1024 * 1024 }
  const aborted = await upload(large, { ...chunked, abortAfterFirstChunk: true })
  const url = aborted.url
  const resumedFrom = await offsetOf(url)
  const resumed = await upload(large, { ...chunked, uploadUrl: url })

  const small = fs.readFileSync(smallFile)
  const created = await upload(small, {
    metadata: { path: smallTarget, filename: 'ignored.txt', filetype: 'text/plain' },
    uploadDataDuringCreation: true,
  })

  console.log(JSON.stringify({
    url,
    same_url: resumed.url === url,
    resumed_from: resumedFrom,
    final_offset: await offsetOf(url),
    small_url: created.url,
    small_offset: await offsetOf(created.url),
  }))
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
