import { useEffect, useState } from "preact/hooks";
import { messageOf } from "../api/problems";
import { formatSize } from "../util";
import { Dialog } from "./Dialog";

const IMAGE = /\.(png|jpe?g|gif|webp|avif|bmp|svg)$/i;
const PDF = /\.pdf$/i;
const TEXT = /\.(txt|md|csv|json|log|xml|ya?ml|toml|ini|rs|ts|tsx|js|py|go|c|h|java|sh|css|html?)$/i;
/** Text previews read at most this much. */
const TEXT_LIMIT = 256 * 1024;

export function canPreview(name: string): boolean {
  return IMAGE.test(name) || TEXT.test(name) || PDF.test(name);
}

/** A file's preview: images and PDFs as the browser shows them, text as text. */
export function Preview({ name, size, url, onClose }: { name: string; size?: number | null; url: string; onClose: () => void }) {
  const [text, setText] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const isText = TEXT.test(name);
  useEffect(() => {
    if (!isText) return;
    fetch(url, { headers: { Range: `bytes=0-${TEXT_LIMIT - 1}` }, credentials: "same-origin" })
      .then(async (response) => {
        if (!response.ok) throw new Error(`The file could not be read (HTTP ${response.status}).`);
        setText(new TextDecoder().decode(await response.arrayBuffer()));
      })
      .catch((err) => setError(messageOf(err)));
  }, [url]);
  let body;
  if (IMAGE.test(name)) body = <img class="preview-image" src={url} alt={name} />;
  else if (PDF.test(name)) body = <iframe class="preview-pdf" src={`${url}&disposition=inline`} title={name} />;
  else if (isText) body = error ? <p class="error">{error}</p> : <pre class="preview-text">{text ?? "Loading…"}</pre>;
  else body = <p>There is no preview for this kind of file.</p>;
  return (
    <Dialog title={name} onClose={onClose}>
      <div class="preview">{body}</div>
      <footer>
        <small>{formatSize(size)}</small>
        <a class="button primary" href={url} download={name}>Download</a>
      </footer>
    </Dialog>
  );
}
