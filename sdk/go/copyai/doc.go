// Copy.ai webhooks managed as infrastructure: which URL hears which Copy.ai workflow events.
package copyai
