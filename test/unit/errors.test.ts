import { describe, expect, it } from 'vitest'
import { VgerError, asVgerError, isVgerError } from '../../ts/errors.js'

/** An error as the addon rejects with: `code` set by the binding, the message alone as `message`. */
function coded(code: string, message: string): Error {
  return Object.assign(new Error(message), { code })
}

describe('asVgerError', () => {
  it('keeps the code the addon set and the message as it is, with the native error as cause', () => {
    const native = coded('VGER_WRONG_PASSPHRASE', 'wrong passphrase for /r; try again')
    const err = asVgerError(native)
    expect(err).toBeInstanceOf(VgerError)
    expect(err.code).toBe('VGER_WRONG_PASSPHRASE')
    expect(err.message).toBe('wrong passphrase for /r; try again')
    expect(err.cause).toBe(native)
    expect(err.name).toBe('VgerError')
  })

  it('never reads a code out of the message text', () => {
    const err = asVgerError(new Error('VGER_LOCKED: held by pid 7'))
    expect(err.code).toBe('VGER_INTERNAL')
    expect(err.message).toBe('VGER_LOCKED: held by pid 7')
  })

  it("maps napi's own argument check to VGER_INVALID_ARGUMENT and other codes to VGER_INTERNAL", () => {
    expect(asVgerError(coded('InvalidArg', 'value `x` does not match any variant')).code).toBe('VGER_INVALID_ARGUMENT')
    expect(asVgerError(coded('GenericFailure', 'boom'))).toMatchObject({ code: 'VGER_INTERNAL', message: 'boom' })
    expect(asVgerError(coded('ENOENT', 'no such file'))).toMatchObject({ code: 'VGER_INTERNAL' })
  })

  it('handles thrown non-errors', () => {
    expect(asVgerError('something').code).toBe('VGER_INTERNAL')
    expect(asVgerError(undefined).code).toBe('VGER_INTERNAL')
    expect(asVgerError(null).code).toBe('VGER_INTERNAL')
    expect(asVgerError(new Error('')).message).toBe('unknown error')
  })

  it('is idempotent', () => {
    const err = new VgerError('VGER_CONFIG', 'bad')
    expect(asVgerError(err)).toBe(err)
  })
})

describe('isVgerError', () => {
  it('checks the class and optionally the code', () => {
    const err = new VgerError('VGER_DEST_NOT_EMPTY', 'x')
    expect(isVgerError(err)).toBe(true)
    expect(isVgerError(err, 'VGER_DEST_NOT_EMPTY')).toBe(true)
    expect(isVgerError(err, 'VGER_CONFIG')).toBe(false)
    expect(isVgerError(new Error('VGER_DEST_NOT_EMPTY: x'))).toBe(false)
  })
})
