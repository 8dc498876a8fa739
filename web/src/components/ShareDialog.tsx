// Sharing a folder with other accounts: share it, add members by email with a role, change
// roles, remove members; leave or unshare.

import { useEffect, useState } from "preact/hooks";
import { api, must } from "../api/client";
import type { components } from "../../generated/schema";
import { messageOf } from "../api/problems";
import type { Entry } from "../live";
import { notify } from "../notices";
import { Dialog } from "./Dialog";

type Member = components["schemas"]["MemberResponse"];
type SharedFolder = components["schemas"]["SharedFolderResponse"];

export function ShareDialog({ entry, onClose }: { entry: Entry; onClose: () => void }) {
  const [folderId, setFolderId] = useState<string | null>(entry.shared_folder_id ?? null);
  const [folder, setFolder] = useState<SharedFolder | null>(null);
  const [members, setMembers] = useState<Member[] | null>(null);
  const [email, setEmail] = useState("");
  const [role, setRole] = useState("editor");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const load = async (id: string) => {
    try {
      setFolder(must(await api.GET("/sharing/folders/{id}", { params: { path: { id } } })));
      setMembers(must(await api.GET("/sharing/folders/{id}/members", { params: { path: { id } } })).members);
    } catch (err) {
      setError(messageOf(err));
    }
  };
  useEffect(() => {
    if (folderId) void load(folderId);
  }, [folderId]);

  const act = async (work: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    try {
      await work();
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  };
  const owner = folder?.role === "owner";

  return (
    <Dialog title={`Share “${entry.name}”`} onClose={onClose}>
      {!folderId && (
        <>
          <p>Share this folder with other people: they see it in their own files, and can change it if you make them editors.</p>
          <footer>
            <button type="button" onClick={onClose}>Cancel</button>
            <button
              type="button"
              class="primary"
              disabled={busy}
              onClick={() =>
                act(async () => {
                  const shared = must(await api.POST("/sharing/folders", { body: { path: entry.path } }));
                  setFolderId(shared.id);
                })
              }
            >
              Share this folder
            </button>
          </footer>
        </>
      )}
      {folderId && (
        <>
          {folder && !owner && (
            <p>
              Shared with you by {folder.owner_email}; you are {folder.role === "viewer" ? "a viewer" : "an editor"}.
            </p>
          )}
          <ul class="items" aria-label="Members" aria-busy={members === null}>
            {(members ?? []).map((member) => (
              <li key={member.user_id}>
                <span class="grow">{member.email}</span>
                {owner && member.role !== "owner" ? (
                  <>
                    <select
                      aria-label={`Role of ${member.email}`}
                      value={member.role}
                      onChange={(e) => {
                        const next = e.currentTarget.value;
                        void act(async () => {
                          await api.PATCH("/sharing/folders/{id}/members/{user_id}", {
                            params: { path: { id: folderId, user_id: member.user_id } },
                            body: { role: next },
                          });
                          await load(folderId);
                        });
                      }}
                    >
                      <option value="editor">Editor</option>
                      <option value="viewer">Viewer</option>
                    </select>
                    <button
                      type="button"
                      class="danger"
                      aria-label={`Remove ${member.email}`}
                      onClick={() =>
                        act(async () => {
                          await api.DELETE("/sharing/folders/{id}/members/{user_id}", {
                            params: { path: { id: folderId, user_id: member.user_id } },
                          });
                          await load(folderId);
                        })
                      }
                    >
                      Remove
                    </button>
                  </>
                ) : (
                  <small>{member.role}</small>
                )}
              </li>
            ))}
          </ul>
          {owner && (
            <form
              class="inline-form"
              onSubmit={(event) => {
                event.preventDefault();
                void act(async () => {
                  must(
                    await api.POST("/sharing/folders/{id}/members", {
                      params: { path: { id: folderId } },
                      body: { email: email.trim(), role },
                    }),
                  );
                  setEmail("");
                  await load(folderId);
                });
              }}
            >
              <label>
                Add people by email
                <input type="email" required value={email} onInput={(e) => setEmail(e.currentTarget.value)} />
              </label>
              <select aria-label="Role" value={role} onChange={(e) => setRole(e.currentTarget.value)}>
                <option value="editor">Editor</option>
                <option value="viewer">Viewer</option>
              </select>
              <button type="submit" class="primary" disabled={busy}>
                Add
              </button>
            </form>
          )}
          {error && <p class="error" role="alert">{error}</p>}
          <footer>
            {owner ? (
              <button
                type="button"
                class="danger"
                disabled={busy}
                onClick={() =>
                  act(async () => {
                    await api.DELETE("/sharing/folders/{id}", { params: { path: { id: folderId } } });
                    notify(`“${entry.name}” is no longer shared.`);
                    onClose();
                  })
                }
              >
                Stop sharing
              </button>
            ) : (
              <button
                type="button"
                class="danger"
                disabled={busy || !folder}
                onClick={() =>
                  act(async () => {
                    await api.POST("/sharing/folders/{id}/leave", { params: { path: { id: folderId } } });
                    notify(`You left “${entry.name}”.`);
                    onClose();
                  })
                }
              >
                Leave this folder
              </button>
            )}
            <button type="button" onClick={onClose}>Done</button>
          </footer>
        </>
      )}
    </Dialog>
  );
}
