// What is shared: folders shared with the user or by them, and the links they can manage.

import { useEffect, useState } from "preact/hooks";
import { api, must } from "../api/client";
import type { components } from "../../generated/schema";
import { messageOf } from "../api/problems";
import { notifyError } from "../notices";
import { linkClick } from "../router";
import { folderRoute, formatTime } from "../util";

type SharedFolder = components["schemas"]["SharedFolderResponse"];
type Link = components["schemas"]["LinkResponse"];

export function SharedPage() {
  const [folders, setFolders] = useState<SharedFolder[] | null>(null);
  const [links, setLinks] = useState<Link[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    api
      .GET("/sharing/folders")
      .then((r) => setFolders(must(r).folders))
      .catch((err) => setError(messageOf(err)));
    api
      .GET("/links")
      .then((r) => setLinks(must(r).links.filter((l) => !l.revoked_at)))
      .catch((err) => setError(messageOf(err)));
  }, []);
  const withMe = (folders ?? []).filter((f) => f.role !== "owner");
  const byMe = (folders ?? []).filter((f) => f.role === "owner");
  const folderList = (list: SharedFolder[], empty: string) => (
    <ul class="items" aria-busy={folders === null}>
      {list.map((f) => (
        <li key={f.id}>
          <span class="kind folder" aria-hidden="true" />
          <span class="grow">
            {f.path ? (
              <a href={folderRoute(f.path)} onClick={(e) => linkClick(e, folderRoute(f.path!))}>
                {f.path}
              </a>
            ) : (
              <em>not in your files</em>
            )}
            <small>
              {" "}
              · {f.role}
              {f.role !== "owner" ? ` · shared by ${f.owner_email}` : ""}
            </small>
          </span>
        </li>
      ))}
      {folders && list.length === 0 && <li class="empty">{empty}</li>}
    </ul>
  );
  return (
    <section class="shared">
      <h1>Shared</h1>
      {error && <p class="error" role="alert">{error}</p>}
      <h2>Shared with me</h2>
      {folderList(withMe, "Nobody has shared a folder with you yet.")}
      <h2>Shared by me</h2>
      {folderList(byMe, "You have not shared a folder. Select one in Files and choose Share.")}
      <h2>Links</h2>
      <ul class="items" aria-busy={links === null}>
        {(links ?? []).map((link) => (
          <li key={link.id}>
            <span class="grow">
              {link.target?.path ?? "(gone)"}
              <small>
                {" "}
                · made {formatTime(link.created_at)} by {link.created_by}
                {link.has_password ? " · password" : ""}
                {link.expires_at ? ` · until ${formatTime(link.expires_at)}` : ""}
                {link.allow_download ? "" : " · no downloads"}
              </small>
            </span>
            <button
              type="button"
              class="danger"
              onClick={async () => {
                try {
                  await api.DELETE("/links/{id}", { params: { path: { id: link.id } } });
                  setLinks((now) => (now ?? []).filter((l) => l.id !== link.id));
                } catch (err) {
                  notifyError(err);
                }
              }}
            >
              Revoke
            </button>
          </li>
        ))}
        {links?.length === 0 && <li class="empty">No links. Select a file or folder in Files and choose Link.</li>}
      </ul>
    </section>
  );
}
