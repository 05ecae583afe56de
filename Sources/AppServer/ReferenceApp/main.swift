import AppServer

// The reference app is started exactly as a user's app would be: one call that runs master or worker.
await AppServer.main(app: ReferenceApp())
