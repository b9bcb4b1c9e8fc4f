/** Terminal prompts on node:readline: a no-echo one for passphrases (output muted after the question), a plain one for confirmations. */
import readline from 'node:readline'
import { Writable } from 'node:stream'
import { VgerError } from '../errors.js'

export interface PromptStreams {
  input: NodeJS.ReadableStream
  output: NodeJS.WritableStream
}

export function promptHidden(question: string, { input, output }: PromptStreams): Promise<string> {
  return new Promise((resolve, reject) => {
    let muted = false
    let settled = false
    // readline echoes every keystroke to its output; this sink drops everything once the question is out.
    const sink = new Writable({
      write(chunk: Buffer | string, _encoding, done): void {
        if (!muted) output.write(chunk)
        done()
      },
    })
    const rl = readline.createInterface({ input, output: sink, terminal: true })
    const finish = (fn: () => void): void => {
      if (settled) return
      settled = true
      output.write('\n')
      rl.close()
      fn()
    }
    rl.on('SIGINT', () => finish(() => reject(new VgerError('VGER_CANCELLED', 'interrupted at the passphrase prompt'))))
    rl.on('close', () => finish(() => reject(new VgerError('VGER_PASSPHRASE_REQUIRED', 'no passphrase entered (end of input)'))))
    rl.question(question, (answer) => finish(() => resolve(answer)))
    muted = true
  })
}

/** One line typed on the terminal, echoed (for confirmations such as `vger delete`). */
export function promptLine(question: string, { input, output }: PromptStreams): Promise<string> {
  return new Promise((resolve, reject) => {
    let settled = false
    const rl = readline.createInterface({ input, output, terminal: true })
    const finish = (fn: () => void): void => {
      if (settled) return
      settled = true
      rl.close()
      fn()
    }
    rl.on('SIGINT', () => finish(() => reject(new VgerError('VGER_CANCELLED', 'interrupted at the confirmation prompt'))))
    rl.on('close', () => finish(() => resolve('')))
    rl.question(question, (answer) => finish(() => resolve(answer.trim())))
  })
}
