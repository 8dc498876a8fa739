//! The ports: what the use cases need from the outside world, as traits. Infrastructure crates
//! implement them; [`crate::testing`] has in-memory fakes.

mod content;
mod plugins;
mod repositories;
mod services;

pub use content::{
    BlobStore, BlockHasher, BlockStream, ByteStream, ContentError, HashedBlock, Scratch,
};
pub use plugins::{
    ActorFacts, CallFailure, CallOutcome, ComponentError, ComponentInfo, PluginCall, PluginEvent,
    PluginLog, PluginRuntime, PolicyDecision, QuotaQuestion, ScanVerdict, SharingQuestion,
    UploadContentReader, UploadFacts,
};

pub use repositories::{
    BlockRepository, ChangeRepository, InviteRepository, LinkRepository, MemberRepository,
    NamespaceRepository, NodeRepository, PluginRepository, RepositoryError, RevisionRepository,
    TokenRepository, Transaction, UnitOfWork, UploadRepository, UserRepository,
};
pub use services::{
    BackgroundTask, ChangeNotifier, Clock, IdGenerator, IssuedSecret, LoginThrottle,
    PasswordHasher, SecretGenerator, SecretKind, TaskSpawner, ThrottleKey, Wakeup,
};
