import { Notices } from "./components/Notices";
import { QuotaBar } from "./components/QuotaBar";
import { AccountPage } from "./pages/AccountPage";
import { FilesPage } from "./pages/FilesPage";
import { LogInPage, SignUpPage } from "./pages/AuthPages";
import { TrashPage } from "./pages/TrashPage";
import { linkClick, navigate, useLocation } from "./router";
import { logOut, session } from "./session";
import { useStore } from "./store";
import { folderOfRoute } from "./util";
import { notifyError } from "./notices";

export function App() {
  const state = useStore(session);
  const location = useLocation();
  const path = location.split("?")[0] ?? "/";

  if (state.status === "loading") {
    return <div class="loading" aria-busy="true">Loading…</div>;
  }
  if (state.status === "anonymous") {
    const page = path === "/signup" ? <SignUpPage /> : <LogInPage ended={state.ended === true} />;
    return (
      <>
        <main class="auth">{page}</main>
        <Notices />
      </>
    );
  }
  if (path === "/" || path === "/login" || path === "/signup") {
    navigate("/files", true);
  }
  const account = state.account;
  let page;
  if (path === "/trash") page = <TrashPage />;
  else if (path === "/account") page = <AccountPage account={account} />;
  else page = <FilesPage folder={folderOfRoute(path)} />;

  const nav = (to: string, label: string, active: boolean) => (
    <a href={to} aria-current={active ? "page" : undefined} onClick={(e) => linkClick(e, to)}>
      {label}
    </a>
  );
  return (
    <>
      <header class="top">
        <a class="brand" href="/files" onClick={(e) => linkClick(e, "/files")}>
          Coffer
        </a>
        <nav aria-label="Main">
          {nav("/files", "Files", path.startsWith("/files"))}
          {nav("/trash", "Trash", path === "/trash")}
          {nav("/account", "Account", path === "/account")}
        </nav>
        <QuotaBar account={account} />
        <button
          type="button"
          class="link"
          onClick={() => {
            logOut().catch(notifyError);
          }}
        >
          Log out
        </button>
      </header>
      <main class="content">{page}</main>
      <Notices />
    </>
  );
}
